#!/bin/sh
# The "program" this example repository builds.
echo "hello from narwhal"
