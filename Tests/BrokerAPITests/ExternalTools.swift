import Testing

/// The suites that drive the venv's tools and Chromium (schemathesis, prometheus_client,
/// Playwright): nested here so that they run one at a time, and their CPU does not pile up on
/// the rest of the suite running beside them on two cores.
@Suite(.serialized) enum ExternalTools {}
