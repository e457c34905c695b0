// The package version, in one place for the CLI, the SYST/FEAT banner and the client's CLNT.
export const VERSION = '0.1.0';
