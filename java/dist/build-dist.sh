#!/bin/sh
# Builds <target>/<name>.tar.gz, a Quarry for a Linux x86-64 host without Java:
#   <name>/runtime/      a jlink image of the JDK running this script, with only <modules>
#   <name>/lib/quarry.jar
#   <name>/bin/quarry    the launcher (java/dist/quarry)
#   <name>/README.txt
# Run by the pom (maven-antrun-plugin, package phase, after the shaded jar):
#   build-dist.sh <java.home> <quarry.jar> <target dir> <name> <modules,comma,separated> <max tarball bytes>
set -eu

java_home=$1 jar=$2 target=$3 name=$4 modules=$5 max_bytes=$6
here=$(cd "$(dirname "$0")" && pwd)

for tool in jlink jdeps; do
    if [ ! -x "$java_home/bin/$tool" ]; then
        echo "build-dist: no $tool in $java_home: the distribution needs a JDK (or -Dquarry.dist.skip=true)" >&2
        exit 1
    fi
done

# The runtime holds only <modules>: stop here, rather than ship a runtime that fails later, when the jar needs more.
needed=$("$java_home/bin/jdeps" --ignore-missing-deps --multi-release 17 --print-module-deps "$jar")
missing=
for m in $(echo "$needed" | tr ',' ' '); do
    case ",$modules," in
        *",$m,"*) ;;
        *) missing="$missing $m" ;;
    esac
done
if [ -n "$missing" ]; then
    echo "build-dist: jdeps says quarry.jar needs$missing; add it to quarry.dist.modules in pom.xml (now: $modules)" >&2
    exit 1
fi

work=$target/dist
stage=$work/$name
rm -rf "$work"
mkdir -p "$stage/bin" "$stage/lib"

# --compress=1 (shared strings) rather than 2 (zip): lib/modules left unzipped gzips smaller in the tarball.
# The launcher runs headless, so the X11 toolkit, the splash screen and sound are left out.
"$java_home/bin/jlink" \
    --add-modules "$modules" \
    --strip-debug --no-man-pages --no-header-files --compress=1 \
    --exclude-files='**/libawt_xawt.so,**/libsplashscreen.so,**/libjsound.so' \
    --output "$stage/runtime"
if command -v strip >/dev/null 2>&1; then
    strip --strip-unneeded "$stage/runtime/lib/server/libjvm.so"
else
    echo "build-dist: no strip on PATH, libjvm.so left as is" >&2
fi

cp "$jar" "$stage/lib/quarry.jar"
cp "$here/quarry" "$stage/bin/quarry"
cp "$here/README.txt" "$stage/README.txt"
chmod 755 "$stage/bin/quarry"

tarball=$target/$name.tar.gz
(cd "$work" && tar --owner=0 --group=0 --numeric-owner -cf - "$name") | gzip > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"

size=$(wc -c < "$tarball" | tr -d ' ')
echo "build-dist: $tarball: $size bytes; runtime modules $modules (jdeps: $needed)"
if [ "$size" -gt "$max_bytes" ]; then
    echo "build-dist: $tarball is $size bytes, over the $max_bytes limit (quarry.dist.maxBytes)" >&2
    exit 1
fi
