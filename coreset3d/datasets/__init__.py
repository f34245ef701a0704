"""Point-cloud datasets: readers for the 3D benchmarks and a synthetic long-tailed set.

Every function returns a :class:`PointCloudDataset` of plain numpy arrays. The
HDF5 readers import h5py, and :func:`load_mesh_folder` trimesh, only when
called, so this module imports without either.
"""

from ._base import PointCloudDataset
from ._longtail import make_long_tailed
from ._meshes import load_mesh_folder
from ._modelnet import load_modelnet40
from ._scanobjectnn import load_scanobjectnn
from ._shapenet import load_shapenet55
from ._synthetic import make_synthetic_shapes

__all__ = [
    "PointCloudDataset",
    "load_modelnet40",
    "load_scanobjectnn",
    "load_shapenet55",
    "load_mesh_folder",
    "make_synthetic_shapes",
    "make_long_tailed",
]
