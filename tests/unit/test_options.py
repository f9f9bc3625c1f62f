# SPDX-License-Identifier: GPL-3.0-or-later
"""The option catalogue is the one source: validation, the engine and the providers' fields agree with it.

Pure (no bpy). The bpy properties and the CLI parser, which need Blender, are checked against the same
catalogue in tests/blender/test_registration.py.
"""

from __future__ import annotations

import math
from dataclasses import fields

import pytest
from retopo_hub.core import options
from retopo_hub.core.errors import InputError
from retopo_hub.core.jobs import JobSpec, freeze
from retopo_hub.core.options import BY_NAME, CATALOGUE, defaults, engine_options, options_for, validate
from retopo_hub.engines import EngineInputError
from retopo_hub.engines.pipeline import EngineParams
from retopo_hub.providers import registry
from retopo_hub.providers.sboxcool_form import PBR_FIELDS, build_form

NUMERIC = [o for o in CATALOGUE if o.kind in (int, float) and not o.items]


def test_names_flags_and_fields_are_unique():
    assert len(BY_NAME) == len(CATALOGUE)
    flags = [o.cli for o in CATALOGUE if o.cli]
    assert len(flags) == len(set(flags))
    for provider in registry.NAMES:
        names = [o.fields[provider] for o in options_for(provider) if provider in o.fields]
        assert len(names) == len(set(names)), provider


def test_every_option_belongs_to_registered_providers():
    assert set(options.PROVIDERS) == set(registry.NAMES), "core.options.PROVIDERS lists the registry's names"
    for option in CATALOGUE:
        assert option.providers and option.providers <= set(registry.NAMES), option.name
        assert set(option.fields) <= option.providers, option.name


def test_defaults_pass_validation_for_every_provider():
    for provider in registry.NAMES:
        validate(provider, defaults(provider))


@pytest.mark.parametrize("option", NUMERIC, ids=[o.name for o in NUMERIC])
def test_bounds_are_accepted_and_beyond_them_refused_in_one_format(option):
    for provider in sorted(option.providers):
        limits = option.limits(provider, {})
        if limits is None:
            continue
        for value in (limits.low, limits.high):
            validate(provider, {option.name: option.kind(value)})
        step = 1 if option.kind is int else 1e-6 * max(1.0, abs(limits.high))
        for value in (limits.low - step, limits.high + step, math.nan, True, "5"):
            with pytest.raises(InputError) as refused:
                validate(provider, {option.name: value})
            message = str(refused.value)
            assert (limits.label or option.label) in message and f"(got {value!r})" in message, message


def test_the_engine_takes_exactly_the_catalogues_engine_options():
    engine_fields = {f.name: f.default for f in fields(EngineParams)}
    for option in CATALOGUE:
        if option.engine:
            assert option.name in engine_fields, option.name
            if option.name not in (
                "mode",
                "target_faces",
            ):  # required by the engine, defaulted by the catalogue
                assert engine_fields[option.name] == option.default, option.name
    params = EngineParams.from_dict(engine_options(defaults("local")))
    assert params.target_faces == BY_NAME["target_faces"].default


@pytest.mark.parametrize("name", ["target_faces", "lod_levels", "lod_final_ratio", "lod_max_threshold"])
def test_the_engine_accepts_what_validation_accepts(name):
    """A value the catalogue lets through must never be refused later by the engine child."""
    option = BY_NAME[name]
    limits = option.limits("local", {})
    base = engine_options(defaults("local"))
    for value in (limits.low, limits.high):
        EngineParams.from_dict(base | {name: option.kind(value)})
    beyond = limits.high + (1 if option.kind is int else 0.5)
    with pytest.raises(EngineInputError):
        EngineParams.from_dict(base | {name: option.kind(beyond)})


def test_sboxcool_form_fields_come_from_the_catalogue():
    documented = {o.fields["sboxcool"] for o in options_for("sboxcool") if "sboxcool" in o.fields}
    everything = defaults("sboxcool") | {"sbox_generate_pbr": True, "sbox_mapping_id": "map_1"}
    spec = JobSpec(
        job_id="j", provider="sboxcool", source_name="s", work_dir="/tmp", options=freeze(everything)
    )
    assert set(build_form(spec)) == documented
    plain = JobSpec(job_id="j", provider="sboxcool", source_name="s", work_dir="/tmp",
                    options=freeze(defaults("sboxcool")))  # fmt: skip
    assert set(build_form(plain)) == documented - set(PBR_FIELDS) - {"mappingId"}


def test_switch_rule_options_are_local_and_never_sent_to_sboxcool():
    sent = options.request_fields("sboxcool", options.defaults("sboxcool"))
    assert {"lodLevels", "lodFinalRatio", "lodMaxThreshold"} <= set(sent)
    for name in ("lod_switch", "pixel_error", "screen_width", "fov"):
        assert BY_NAME[name].providers == {"local"} and not BY_NAME[name].engine
    assert options.defaults("local")["lod_switch"] == "error"
