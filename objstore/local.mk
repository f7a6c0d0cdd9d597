# objstore/local.mk - sources, tests and fuzz targets of this part.
