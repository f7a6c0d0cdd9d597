# lib/sign.mk - sources, tests and fuzz targets of this part.
