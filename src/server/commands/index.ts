// Assembles the command table from the command families, plus the verbs known but not implemented.
import { register, COMMANDS } from './table.js';
import { accessCommands } from './access.js';
import { directoryCommands } from './directory.js';
import { fileCommands } from './file.js';
import { transferCommands } from './transfer.js';
import { listingCommands } from './listing.js';
import { dataConnectionCommands } from './data-connection.js';
import { infoCommands } from './info.js';
import { securityCommands } from './security.js';

register([
  ...accessCommands, ...directoryCommands, ...fileCommands, ...transferCommands,
  ...listingCommands, ...dataConnectionCommands, ...infoCommands, ...securityCommands,
]);

// Known verbs from RFC 959, 1639, 2228 and the old mail extensions: answered 502, not 500.
register(['SMNT', 'LPRT', 'LPSV', 'ADAT', 'MIC', 'CONF', 'ENC', 'MAIL', 'MLFL', 'MSND', 'MSOM', 'MSAM', 'MRSQ', 'MRCP', 'XRCP', 'XRSQ', 'XSEM', 'XSEN']
  .map((verb) => ({ verb, needsLogin: false, help: verb })));

export { COMMANDS };
