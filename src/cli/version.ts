/** The package version, shown by `zerovm --version` and in reports. */
export const VERSION = '0.1.0';
