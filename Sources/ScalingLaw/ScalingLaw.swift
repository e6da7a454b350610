// Weighted least squares, bootstrap and hypothesis tests for the scaling law.
