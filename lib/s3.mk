# lib/s3.mk - sources, tests and fuzz targets of this part.
