/**
 * The toolchain versions used everywhere: Lambda runtimes, CodeBuild runtimes, buildspec
 * environment variables and the local build runner all read these, so they cannot drift.
 */
/** Node of every Lambda function and of the esbuild bundles (Lambda's newest Node runtime). */
export const NODE_MAJOR_VERSION = 24;
/** Oldest Node that runs the CLI and the tests (package.json engines). */
export const MIN_TOOLING_NODE_MAJOR_VERSION = 20;
/**
 * Python that runs and compiles the Nuitka monitors (Amazon Linux 2023 ships 3.11). The project
 * venv (tools/setup.sh) and the test build run the same one, because they run the Nuitka builds.
 * A build reads it from the variable build-env.ts PYTHON_VERSION names.
 */
export const NUITKA_PYTHON_VERSION = '3.11';
/** The Lambda runtime environment the binaries target, as written into metadata. */
export const RUNTIME_ENVIRONMENT = 'amazon-linux-2023';
/** The metadata schema version this code writes. */
export const METADATA_SCHEMA_VERSION = 1;
