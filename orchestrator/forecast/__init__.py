"""Forecast: run the playbooks' static detectors on a template, and repair what they find before deploying."""

from orchestrator.forecast.run import ForecastResult, forecast, forecast_and_fix

__all__ = ["ForecastResult", "forecast", "forecast_and_fix"]
