"""ChartMimic's evaluators (github ChartMimic/ChartMimic, Apache-2.0), for comparison tests."""
