// Compiles but never includes the masker API: no entry point.
int helper(int x) { return x + 1; }
