"""invnet: reproduction of Holl & Thuerey (2024), "The Unreasonable Effectiveness of Solving
Inverse Problems with Neural Networks" — problems, solvers, artifacts, analysis and figures."""

__version__ = "0.1.0"
