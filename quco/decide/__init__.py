"""The decision: trigger rules, the evidence model, reports, calibration, the detector, answer scoring."""
