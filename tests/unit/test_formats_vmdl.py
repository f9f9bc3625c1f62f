# SPDX-License-Identifier: GPL-3.0-or-later
"""core.vmdl: ModelDoc KV3 text with ModelDoc's own layout, and a tolerant reader of its LOD table."""

from __future__ import annotations

import re

import pytest
from retopo_hub.formats.vmdl import (
    KV3_HEADER,
    dumps_kv3,
    format_float,
    loads_kv3,
    parse_vmdl_lods,
    quote,
    write_vmdl,
)


def lod(name: str, filename: str, threshold: float, mesh_names: list[str] | None = None) -> dict:
    return {"name": name, "filename": filename, "switch_threshold": threshold, "mesh_names": mesh_names}


THREE_LODS = [
    lod("LOD0", "models/rock/rock_lod0.fbx", 0.0),
    lod("LOD1", "models/rock/rock_lod1.fbx", 25.0),
    lod("LOD2", "models/rock/rock_lod2.fbx", 60.5),
]

EXPECTED_ONE_LOD = """\
<!-- kv3 encoding:text:version{e21c7f3c-8a33-41c5-9977-a76d3a32aa0d} \
format:modeldoc29:version{3cec427c-1b0e-4d48-a90a-0436f33a6041} -->
{
	rootNode = 
	{
		_class = "RootNode"
		children = 
		[
			{
				_class = "RenderMeshList"
				children = 
				[
					{
						_class = "RenderMeshFile"
						name = "LOD0"
						filename = "models/x/x_lod0.fbx"
						import_translation = [ 0.0, 0.0, 0.0 ]
						import_rotation = [ 0.0, 0.0, 0.0 ]
						import_scale = 1.0
						align_origin_x_type = "None"
						align_origin_y_type = "None"
						align_origin_z_type = "None"
						parent_bone = ""
						import_filter = 
						{
							exclude_by_default = false
							exception_list = [  ]
						}
					},
				]
			},
			{
				_class = "LODGroupList"
				children = 
				[
					{
						_class = "LODGroup"
						switch_threshold = 0.0
						meshes = 
						[
							"LOD0",
						]
					},
				]
			},
		]
		model_archetype = ""
		primary_associated_entity = ""
		anim_graph_name = ""
		base_model_name = ""
	}
}
"""  # noqa: W291 - ModelDoc writes "key = " with a trailing space before a block value


def test_single_lod_matches_modeldoc_layout_exactly() -> None:
    assert write_vmdl([lod("LOD0", "models/x/x_lod0.fbx", 0.0)]) == EXPECTED_ONE_LOD


def test_header_tabs_and_no_spaces_for_indentation() -> None:
    text = write_vmdl(THREE_LODS, material_remaps=[("a.vmat", "b.vmat")], physics=True)
    lines = text.splitlines()
    assert lines[0] == KV3_HEADER
    assert lines[1] == "{" and lines[-1] == "}"
    assert text.endswith("}\n")
    assert all(not line.startswith(" ") for line in lines)
    assert all(re.fullmatch(r"\t*\S.*", line) for line in lines[1:])


def test_every_multiline_array_element_has_a_trailing_comma() -> None:
    text = write_vmdl(
        [lod("LOD0", "a/a0.fbx", 0.0, ["body", "head"]), lod("LOD1", "a/a1.fbx", 1.0)],
        material_remaps=[("x.vmat", "y.vmat")],
        physics=True,
    )
    lines = text.splitlines()
    stack: list[str] = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped in ("[", "{"):
            stack.append(stripped)
            continue
        if stripped in ("]", "}", "},"):
            stack.pop()
            if stack and stack[-1] == "[":
                assert stripped == "},", f"line {number}: element of an array without a comma"
            continue
        if stack and stack[-1] == "[":
            assert stripped.endswith(","), f"line {number}: {stripped!r} lacks the trailing comma"
    assert stack == []


def test_lod_groups_and_render_meshes_per_lod() -> None:
    text = write_vmdl(THREE_LODS)
    assert text.count('_class = "RenderMeshFile"') == 3
    assert text.count('_class = "LODGroup"') == 3
    assert re.findall(r"switch_threshold = (\S+)", text) == ["0.0", "25.0", "60.5"]
    assert "MaterialGroupList" not in text and "PhysicsShapeList" not in text
    # Node order follows ModelDoc: materials, render meshes, physics, LOD groups.
    full = write_vmdl(THREE_LODS, material_remaps=[("a.vmat", "b.vmat")], physics=True)
    order = [
        full.index(name)
        for name in ("MaterialGroupList", "RenderMeshList", "PhysicsShapeList", "LODGroupList")
    ]
    assert order == sorted(order)


def test_material_remaps_block() -> None:
    text = write_vmdl(THREE_LODS[:1], material_remaps=[("Rock Mat.vmat", "materials/rock.vmat"), ("b", "c")])
    assert '\t\t\t\t\t\t\t\tfrom = "Rock Mat.vmat"\n\t\t\t\t\t\t\t\tto = "materials/rock.vmat"\n' in text
    tree = loads_kv3(text)
    groups = tree["rootNode"]["children"][0]
    assert groups["_class"] == "MaterialGroupList"
    assert groups["children"][0]["_class"] == "DefaultMaterialGroup"
    assert groups["children"][0]["remaps"] == [
        {"from": "Rock Mat.vmat", "to": "materials/rock.vmat"},
        {"from": "b", "to": "c"},
    ]


def test_physics_hull_from_render() -> None:
    tree = loads_kv3(write_vmdl(THREE_LODS[:1], physics=True))
    physics = [c for c in tree["rootNode"]["children"] if c["_class"] == "PhysicsShapeList"]
    assert len(physics) == 1
    assert [child["_class"] for child in physics[0]["children"]] == ["PhysicsHullFromRender"]


def test_mesh_names_become_an_import_filter() -> None:
    text = write_vmdl([lod("LOD0", "m/m0.fbx", 0.0, ["Body", "Head"]), lod("LOD1", "m/m1.fbx", 3.0)])
    meshes = loads_kv3(text)["rootNode"]["children"][0]["children"]
    assert meshes[0]["import_filter"] == {"exclude_by_default": True, "exception_list": ["Body", "Head"]}
    assert meshes[1]["import_filter"] == {"exclude_by_default": False, "exception_list": []}


def test_strings_are_escaped_and_read_back() -> None:
    assert quote('a"b\\c') == '"a\\"b\\\\c"'
    name = 'LOD "zero" \\ odd'
    text = write_vmdl([lod(name, "m/we ird\\dir/x.fbx", 0.0, ['node "1"'])])
    assert 'name = "LOD \\"zero\\" \\\\ odd"' in text
    assert 'filename = "m/we ird/dir/x.fbx"' in text  # backslashes in paths become forward slashes
    assert parse_vmdl_lods(text) == [(name, 0.0, "m/we ird/dir/x.fbx")]
    assert loads_kv3(text)["rootNode"]["children"][0]["children"][0]["import_filter"]["exception_list"] == [
        'node "1"'
    ]


def test_control_characters_in_strings_are_refused() -> None:
    with pytest.raises(ValueError, match="control characters"):
        write_vmdl([lod("LOD\n0", "m/x.fbx", 0.0)])


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (12, "12.0"),
        (12.5, "12.5"),
        (0.1, "0.1"),
        (1e-7, "0.0000001"),
        (1e20, "100000000000000000000.0"),
        (-3.25, "-3.25"),
    ],
)
def test_floats_always_have_a_decimal_point_and_no_exponent(value: float, text: str) -> None:
    assert format_float(value) == text
    assert float(format_float(value)) == float(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_floats_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        format_float(value)


def test_thresholds_are_written_as_floats_even_from_ints() -> None:
    text = write_vmdl([lod("LOD0", "m/0.fbx", 0), lod("LOD1", "m/1.fbx", 7)])
    assert re.findall(r"switch_threshold = (\S+)", text) == ["0.0", "7.0"]


def test_round_trip_parse_of_write() -> None:
    lods = [*THREE_LODS, lod("LOD3", "models/rock/rock_lod3.fbx", 1000.125, ["rock_LOD3"])]
    assert parse_vmdl_lods(write_vmdl(lods, material_remaps=[("a", "b")], physics=True)) == [
        (item["name"], float(item["switch_threshold"]), item["filename"]) for item in lods
    ]


def test_lod0_threshold_is_zero() -> None:
    parsed = parse_vmdl_lods(write_vmdl(THREE_LODS))
    assert parsed[0] == ("LOD0", 0.0, "models/rock/rock_lod0.fbx")


@pytest.mark.parametrize(
    ("lods", "message"),
    [
        ([], "at least one LOD"),
        ([lod("LOD0", "m/0.fbx", 5.0)], "start at 0.0"),
        ([lod("LOD0", "m/0.fbx", 0.0), lod("LOD1", "m/1.fbx", 0.0)], "increase"),
        ([lod("LOD0", "m/0.fbx", 0.0), lod("LOD1", "m/1.fbx", 9.0), lod("LOD2", "m/2.fbx", 3.0)], "increase"),
        ([lod("LOD0", "m/0.fbx", 0.0), lod("LOD1", "m/1.fbx", float("nan"))], "increase"),
        ([lod("LOD0", "m/0.fbx", 0.0), lod("LOD0", "m/1.fbx", 1.0)], "unique"),
        ([lod("", "m/0.fbx", 0.0)], "unique, non-empty"),
        ([lod("LOD0", "/abs/0.fbx", 0.0)], "relative path"),
        ([lod("LOD0", "C:\\sbox\\Assets\\0.fbx", 0.0)], "relative path"),
        ([lod("LOD0", "../outside/0.fbx", 0.0)], "relative path"),
        ([lod("LOD0", "", 0.0)], "relative path"),
    ],
)
def test_invalid_lod_lists_are_refused(lods: list[dict], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_vmdl(lods)


def test_dot_slash_prefix_is_dropped_from_filenames() -> None:
    assert parse_vmdl_lods(write_vmdl([lod("LOD0", "./models/a.fbx", 0.0)]))[0][2] == "models/a.fbx"


# ---------------------------------------------------------------------------------------------- reader
OTHER_TOOL_VMDL = """<!-- kv3 encoding:text:version{e21c7f3c-8a33-41c5-9977-a76d3a32aa0d} \
format:modeldoc30:version{8c2d7a91-9c42-4bf0-883a-5a3b1762d4f1} -->
{
	rootNode =
	{
		_class = "RootNode"
		children =
		[
			{
				_class = "Folder"  // ModelDoc lets users group nodes
				children =
				[
					{ _class = "RenderMeshFile" name = "hi" filename = "models/t/t_hi.fbx" },
					{ _class = "RenderMeshFile" filename = "models/t/t_lo.fbx" }
				]
			},
			/* a block comment */
			{
				_class = "LODGroupList"
				children =
				[
					{ _class = "LODGroup" switch_threshold = 4 mesh_references = [ { mesh_name = "t_lo" } ] },
					{ _class = "LODGroup" switch_threshold = 0.0 meshes = [ "hi" ] },
				]
			},
			{ _class = "Blob" data = #[ 00 01 FF ] material = resource_name:"materials/x.vmat" flag = true },
		]
		text = \"\"\"multi
line\"\"\"
	}
}
"""


def test_reader_tolerates_other_layouts() -> None:
    assert parse_vmdl_lods(OTHER_TOOL_VMDL) == [
        ("hi", 0.0, "models/t/t_hi.fbx"),
        ("t_lo", 4.0, "models/t/t_lo.fbx"),
    ]
    tree = loads_kv3(OTHER_TOOL_VMDL)
    blob = tree["rootNode"]["children"][2]
    assert blob["material"] == "materials/x.vmat" and blob["flag"] is True and len(blob["data"]) == 3
    assert tree["rootNode"]["text"] == "multi\nline"


def test_reader_without_lod_groups_returns_every_render_mesh() -> None:
    text = '{ rootNode = { children = [ { _class = "RenderMeshFile" name = "a" filename = "m/a.fbx" } ] } }'
    assert parse_vmdl_lods(text) == [("a", 0.0, "m/a.fbx")]


def test_reader_unknown_mesh_gets_empty_filename() -> None:
    text = '{ n = [ { _class = "LODGroup" switch_threshold = 1.0 meshes = [ "ghost" ] } ] }'
    assert parse_vmdl_lods(text) == [("ghost", 1.0, "")]


@pytest.mark.parametrize(
    "text",
    ["{ a = ", "{ a = [ 1, 2 }", "{ = 3 }", "{ a = 1 } trailing", '{ a = "unterminated }', "", "{ a = ] }"],
)
def test_reader_rejects_malformed_kv3(text: str) -> None:
    with pytest.raises(ValueError, match="KV3"):
        loads_kv3(text)


def test_dumps_kv3_generic_values() -> None:
    text = dumps_kv3({"a": True, "b": 3, "c": [1, 2.5], "d": [], "e": [{"x": "y"}], "f": ["s"]})
    assert "\ta = true\n\tb = 3\n\tc = [ 1, 2.5 ]\n\td = [  ]\n" in text
    assert loads_kv3(text) == {"a": True, "b": 3, "c": [1, 2.5], "d": [], "e": [{"x": "y"}], "f": ["s"]}
    with pytest.raises(TypeError):
        dumps_kv3({"a": object()})
