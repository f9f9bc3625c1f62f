# SPDX-License-Identifier: GPL-3.0-or-later
"""Turn a quad-dominant mesh into quads by pairing its odd faces, so its later split makes no extra poles.

Contract: ``pair_odd_faces(verts, faces)`` takes vertex positions (N, 3) and polygons as lists of vertex
indices (consistently wound) and returns a new list of polygons over the same vertices with every face a
quad except, on a piece with an odd number of triangles (only possible with boundaries), one triangle.
Vertices are neither moved nor added. Pure Python over the coarse mesh (a quarter of the output's faces);
imports numpy and the stdlib only; never touches bpy.

How: n-gons of five or more sides are cut into quads and at most one triangle (the cut with the lowest
valence cost, then the shortest); then each triangle walks to its nearest other triangle through the
quads between them (breadth-first over shared edges): merging a triangle with the next quad on the path
gives a pentagon, which is cut again so the triangle holds the edge towards the one after; two triangles
that meet merge into a quad. Each cut adds an edge, so cuts prefer diagonals whose ends have low valence.
The idea of moving triangles along quad strips until they meet is old (e.g. Blossom-Quad's and Tarini
et al.'s quad-dominant clean-ups); the code here is written from that description.
"""

from __future__ import annotations

from collections import deque

import numpy as np

MAX_PATH = 12
# A forced pairing (a final mesh, no split after it) looks this many times further for a partner.
FORCED_REACH = 4
# Nearest odd faces tried per triangle; the first pairing that lowers the pole count is kept.
PARTNERS = 4
ROTATION_PASSES = 3


class _Mesh:
    def __init__(self, verts: np.ndarray, faces: list[list[int]]) -> None:
        self.p = np.asarray(verts, dtype=np.float64)
        self.faces: dict[int, list[int]] = {}
        self.edge_faces: dict[tuple[int, int], set[int]] = {}
        self.valence = np.zeros(self.p.shape[0], dtype=np.int64)
        self.next_id = 0
        self.log: list[tuple[int, list[int] | None]] | None = None
        for f in faces:
            self.add(list(f))

    @staticmethod
    def _edges(face: list[int]) -> list[tuple[int, int]]:
        return [(min(a, b), max(a, b)) for a, b in zip(face, face[1:] + face[:1], strict=True)]

    def add(self, face: list[int]) -> int:
        fid = self.next_id
        self.next_id += 1
        self.faces[fid] = face
        if self.log is not None:
            self.log.append((fid, None))
        for e in self._edges(face):
            users = self.edge_faces.setdefault(e, set())
            if not users:
                self.valence[list(e)] += 1
            users.add(fid)
        return fid

    def remove(self, fid: int) -> list[int]:
        face = self.faces.pop(fid)
        if self.log is not None:
            self.log.append((fid, face))
        for e in self._edges(face):
            users = self.edge_faces[e]
            users.discard(fid)
            if not users:
                del self.edge_faces[e]
                self.valence[list(e)] -= 1
        return face

    def _restore(self, fid: int, face: list[int]) -> None:
        self.faces[fid] = face
        for e in self._edges(face):
            users = self.edge_faces.setdefault(e, set())
            if not users:
                self.valence[list(e)] += 1
            users.add(fid)

    def begin(self) -> None:
        self.log = []

    def commit(self) -> None:
        self.log = None

    def rollback(self) -> None:
        entries, self.log = self.log or [], None
        for fid, face in reversed(entries):
            if face is None:
                self.remove(fid)
            else:
                self._restore(fid, face)

    def touched(self) -> tuple[set[int], set[int]]:
        """Vertices and faces (ids, old and new) the open transaction changed."""
        verts: set[int] = set()
        faces: set[int] = set()
        for fid, face in self.log or []:
            faces.add(fid)
            verts.update(face if face is not None else self.faces.get(fid, []))
        return verts, faces

    def neighbour(self, fid: int, edge: tuple[int, int]) -> int | None:
        users = self.edge_faces.get(edge, set())
        if len(users) != 2:
            return None
        a, b = users
        return b if a == fid else a

    def merge(self, f: int, g: int) -> list[int] | None:
        """Remove f and g (sharing exactly one edge) and return their union polygon, wound like f."""
        face_f, face_g = self.faces[f], self.faces[g]
        shared = set(self._edges(face_f)) & set(self._edges(face_g))
        if len(shared) != 1 or len(set(face_f) & set(face_g)) != 2:
            return None
        a, b = next(iter(shared))
        i = face_f.index(a)
        if face_f[(i + 1) % len(face_f)] != b:
            a, b = b, a
            i = face_f.index(a)
        # f runs a -> b; g runs b -> a; the union goes around f from b back to a, then through g.
        j = face_g.index(b)
        if face_g[(j + 1) % len(face_g)] != a:
            return None
        ring_f = [face_f[(i + 1 + k) % len(face_f)] for k in range(len(face_f))]  # b ... a
        ring_g = [face_g[(j + 1 + k) % len(face_g)] for k in range(len(face_g))]  # a ... b
        self.remove(f)
        self.remove(g)
        return ring_f + ring_g[1:-1]

    def cut_cost(self, a: int, b: int) -> tuple[int, float]:
        """Adding edge ab raises both valences: cheaper when they sit below 4; then shorter is better."""
        cost = sum((self.valence[v] + 1 - 4) ** 2 - (self.valence[v] - 4) ** 2 for v in (a, b))
        return int(cost), float(np.linalg.norm(self.p[a] - self.p[b]))


def _split_ngon(mesh: _Mesh, poly: list[int]) -> list[int]:
    """Cut an n-gon (n >= 5) into quads and at most one triangle; returns the new face ids."""
    n = len(poly)
    if n <= 4:
        return [mesh.add(poly)]
    best = None
    for i in range(n):
        # Cut off the quad poly[i..i+3]; the rest is an (n - 2)-gon.
        a, b = poly[i], poly[(i + 3) % n]
        if a == b or (min(a, b), max(a, b)) in mesh.edge_faces:
            continue
        key = mesh.cut_cost(a, b)
        if best is None or key < best[0]:
            best = (key, i)
    if best is None:
        return [mesh.add(poly)]
    i = best[1]
    quad = [poly[(i + k) % n] for k in range(4)]
    rest = [poly[(i + 3 + k) % n] for k in range(n - 2)]
    return [mesh.add(quad), *_split_ngon(mesh, rest)]


def _paths_to_odd(mesh: _Mesh, start: int, limit: int = PARTNERS, reach: int = MAX_PATH) -> list[list[int]]:
    """Face paths from triangle ``start`` through quads to its nearest odd faces (triangles, pentagons)."""
    parent = {start: -1}
    queue = deque([(start, 0)])
    found: list[list[int]] = []
    while queue and len(found) < limit:
        fid, depth = queue.popleft()
        if depth >= reach:
            continue
        for e in _Mesh._edges(mesh.faces[fid]):
            nxt = mesh.neighbour(fid, e)
            if nxt is None or nxt in parent:
                continue
            parent[nxt] = fid
            size = len(mesh.faces[nxt])
            if size in (3, 5):
                path = [nxt]
                while parent[path[-1]] != -1:
                    path.append(parent[path[-1]])
                found.append(path[::-1])
            elif size == 4:
                queue.append((nxt, depth + 1))
    return found


def _move_triangle(mesh: _Mesh, tri: int, quad: int, towards: int) -> int | None:
    """Merge ``tri`` into ``quad`` and re-cut so the new triangle borders ``towards``; its id or None."""
    poly = mesh.merge(tri, quad)
    if poly is None:
        return None
    target = set(mesh.faces[towards])
    options = []
    n = len(poly)  # 5
    for i in range(n):
        u, w = poly[i], poly[(i + 1) % n]
        if u not in target or w not in target:
            continue
        for tri_face, quad_face, cut in (
            ([u, w, poly[(i + 2) % n]], [poly[(i + 2 + k) % n] for k in range(4)], (u, poly[(i + 2) % n])),
            ([poly[(i - 1) % n], u, w], [poly[(i + 1 + k) % n] for k in range(4)], (poly[(i - 1) % n], w)),
        ):
            if (min(cut), max(cut)) in mesh.edge_faces:
                continue
            options.append((mesh.cut_cost(*cut), tri_face, quad_face))
    if not options:
        fids = _split_ngon(mesh, poly)
        return next((f for f in fids if len(mesh.faces[f]) == 3), None)
    _, tri_face, quad_face = min(options, key=lambda o: o[0])
    mesh.add(quad_face)
    return mesh.add(tri_face)


def _poles(mesh: _Mesh, verts: set[int], faces: list[list[int]], border: np.ndarray) -> int:
    """Poles the split of these faces would have here: odd-valence-4 inner vertices plus non-quad faces."""
    inner = [v for v in verts if not border[v]]
    off = np.abs(mesh.valence[inner] - 4)
    # Valence 2 or 6 and beyond count double: a trade that makes them is worse for an artist than it looks.
    return int(np.count_nonzero(off) + np.count_nonzero(off >= 2)) + sum(len(f) != 4 for f in faces)


def _pair_along(mesh: _Mesh, path: list[int]) -> bool:
    """Walk the triangle path[0] along the quads of ``path`` and merge it with the odd face path[-1]."""
    current = path[0]
    for k in range(1, len(path) - 1):
        moved = _move_triangle(mesh, current, path[k], path[k + 1])
        if moved is None:
            return False
        current = moved
    merged = mesh.merge(current, path[-1])
    if merged is None:
        return False
    _split_ngon(mesh, merged)
    return True


def pair_odd_faces(verts: np.ndarray, faces: list[list[int]], force: bool = False) -> list[list[int]]:
    """Pair odd faces where that lowers the pole count; see the module docstring. ``force``: every odd
    face is paired where a partner is in reach, whatever the poles (the result is final, not split again),
    and pentagons are cut first."""
    mesh = _Mesh(verts, [])
    for f in faces:
        if len(f) >= (5 if force else 6):
            _split_ngon(mesh, list(f))
        else:
            mesh.add(list(f))
    border = np.zeros(mesh.p.shape[0], dtype=bool)
    for e, users in mesh.edge_faces.items():
        if len(users) == 1:
            border[list(e)] = True
    for tri in sorted(fid for fid, f in mesh.faces.items() if len(f) == 3):
        if tri not in mesh.faces or len(mesh.faces[tri]) != 3:
            continue
        best: tuple[int, list[int]] | None = None
        for path in _paths_to_odd(mesh, tri, reach=MAX_PATH * (FORCED_REACH if force else 1)):
            if any(fid not in mesh.faces for fid in path):
                continue
            before_faces = [mesh.faces[fid] for fid in path]
            verts_on = {v for f in before_faces for v in f}
            before = _poles(mesh, verts_on, before_faces, border)
            mesh.begin()
            ok = _pair_along(mesh, path)
            _, changed = mesh.touched()
            after_faces = [mesh.faces[fid] for fid in changed if fid in mesh.faces]
            gain = before - _poles(mesh, verts_on, after_faces, border)
            if ok and gain > 0:
                mesh.commit()
                best = None
                break
            mesh.rollback()
            if ok and force and (best is None or gain > best[0]):
                best = (gain, path)
        if best is not None:
            mesh.begin()
            _pair_along(mesh, best[1])
            mesh.commit()
    _rotate_edges(mesh, border)
    return list(mesh.faces.values())


def _rotate_edges(mesh: _Mesh, border: np.ndarray) -> None:
    """Turn edges between two quads to another diagonal of their hexagon where that removes poles."""
    for _ in range(ROTATION_PASSES):
        changed = False
        for e in list(mesh.edge_faces):
            users = mesh.edge_faces.get(e)
            if not users or len(users) != 2 or all(mesh.valence[v] == 4 or border[v] for v in e):
                continue
            f, g = users
            if len(mesh.faces[f]) != 4 or len(mesh.faces[g]) != 4:
                continue
            verts_on = set(mesh.faces[f]) | set(mesh.faces[g])
            before = _poles(mesh, verts_on, [], border)
            mesh.begin()
            hexagon = mesh.merge(f, g)
            best = None
            if hexagon is not None and len(hexagon) == 6:
                for i in (1, 2):
                    a, b = hexagon[i], hexagon[i + 3]
                    if (min(a, b), max(a, b)) in mesh.edge_faces:
                        continue
                    key = mesh.cut_cost(a, b)
                    if best is None or key < best[0]:
                        best = (key, i)
            if best is not None:
                i = best[1]
                mesh.add([hexagon[(i + k) % 6] for k in range(4)])
                mesh.add([hexagon[(i + 3 + k) % 6] for k in range(4)])
                if _poles(mesh, verts_on, [], border) < before:
                    mesh.commit()
                    changed = True
                    continue
            mesh.rollback()
        if not changed:
            break
