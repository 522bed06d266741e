"""``fbsim report``: one self-contained HTML file describing a results folder.

:func:`~sim.report.build.build_report` turns a results folder (and optionally other
folders to compare with it) into HTML with every figure embedded as a data URI, so the
file can be mailed or archived on its own. :mod:`sim.report.words` says the scenario in
plain words; :mod:`sim.report.stress` fills the STRESS-DES checklist from the manifest.
"""
