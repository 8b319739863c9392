// Copies non-TypeScript files that the compiled code reads at run time into dist/. Nothing yet
// besides this marker; the policies folder is read from the repository, not from dist/.
process.exit(0);
