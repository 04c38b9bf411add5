"""One module per CLI command: parse the options, call one library function (lic_bench.api, which is
also the Python API), format the result (lic_bench.formats). ``lic_bench.cli`` assembles them."""
