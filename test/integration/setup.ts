// ink-testing-library (the dashboard's real-host test): with CI=true in the environment Ink renders
// nothing to lastFrame(); CI runs with CI=true.
delete process.env.CI;
