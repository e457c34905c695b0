// Placeholder replaced below.
export async function clientBench() { return undefined; }
