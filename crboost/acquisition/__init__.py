"""What the microscope wrote: mdoc files, the values inferred from them, the tilt-series
manifest and the project's links to the movies (frames/)."""
