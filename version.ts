/** The ddb version, shown by `ddb --version`, INFO and HELLO. */
export const VERSION = "0.1.0";
