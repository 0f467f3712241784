"""Background jobs of the model-comparison workbench.

Everything the dashboard can do is a function of a config that writes a run folder and a
row in the store; this package holds those functions, the store and the worker. It may
import torch; `dashboard/` never does.
"""

__version__ = "0.1.0"
