// SPDX-License-Identifier: GPL-3.0-or-later
// Writes a mesh package from npm (`positions` and `cells`, nested or flat, as the `snowden` and `teapot`
// packages export them) as an OBJ file, so bench/topology.py --file reads it through Blender's importer
// as a user's file: node bench/npm_to_obj.js PACKAGE_FOLDER OUT.obj (see bench/TOPOLOGY.md).
const path = require("path");
const fs = require("fs");

const [folder, out] = process.argv.slice(2);
if (!folder || !out) {
  console.error("usage: node bench/npm_to_obj.js PACKAGE_FOLDER OUT.obj");
  process.exit(2);
}
const mesh = require(path.resolve(folder));
const flat = (values) => Array.from(values).flat();
const positions = flat(mesh.positions);
const cells = flat(mesh.cells);
const lines = [];
for (let i = 0; i < positions.length; i += 3) {
  lines.push(`v ${positions[i]} ${positions[i + 1]} ${positions[i + 2]}`);
}
for (let i = 0; i < cells.length; i += 3) {
  lines.push(`f ${cells[i] + 1} ${cells[i + 1] + 1} ${cells[i + 2] + 1}`);
}
fs.writeFileSync(out, lines.join("\n") + "\n");
console.log(`${out}: ${positions.length / 3} vertices, ${cells.length / 3} triangles`);
