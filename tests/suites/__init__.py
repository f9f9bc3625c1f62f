# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the suites that count: the fault suite, the load run and the bad-input suite."""
