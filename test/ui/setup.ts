// ink-testing-library: with CI=true in the environment, lastFrame() is empty after unmount.
delete process.env.CI;
