#!/bin/sh
# Re-create the third-party files the exported decks load, so that they work
# offline (file://, no CDN). nbconvert's templates point at unpkg/cdnjs by
# default; d2l_helpers.publish points them here instead ("vendor/..." relative
# to each HTML file). Only what the templates load is copied, plus licences.
#
# Usage: sh slides/vendor/fetch.sh   (needs npm and the npm registry)
set -eu

# reveal.js 4.0.2 is the version nbconvert 7's reveal template is written for
# (its default CDN URL); the other two are pinned so re-running is reproducible.
REVEAL=reveal.js@4.0.2
REQUIREJS=requirejs@2.3.8
JQUERY=jquery@2.2.4

dest=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "$REVEAL" "$REQUIREJS" "$JQUERY" >/dev/null
for tgz in *.tgz; do
    mkdir "${tgz%.tgz}"
    tar -xzf "$tgz" -C "${tgz%.tgz}"
done

rm -rf "$dest/reveal.js" "$dest/requirejs" "$dest/jquery"

r=reveal.js-4.0.2/package
fonts=dist/theme/fonts/source-sans-pro
mkdir -p "$dest/reveal.js/dist" "$dest/reveal.js/$fonts" "$dest/reveal.js/plugin/notes"
cp "$r/LICENSE" "$dest/reveal.js/"
cp "$r/dist/reveal.js" "$r/dist/reveal.css" "$dest/reveal.js/dist/"
# The "white" theme: unlike nbconvert's default "simple", it does not @import
# Google Fonts; its own font (Source Sans Pro) ships with reveal.js. Only the
# woff files are copied: every browser that runs reveal.js 4 picks woff from
# the @font-face src list before the eot/ttf alternatives.
mkdir -p "$dest/reveal.js/dist/theme"
cp "$r/dist/theme/white.css" "$dest/reveal.js/dist/theme/"
cp "$r/$fonts/source-sans-pro.css" "$r/$fonts/LICENSE" "$r/$fonts"/*.woff "$dest/reveal.js/$fonts/"
# Speaker notes (the "s" key): the template loads this plugin unconditionally.
cp "$r/plugin/notes/notes.js" "$dest/reveal.js/plugin/notes/"

# The requirejs package has no LICENSE file; require.js carries its MIT
# licence header itself.
mkdir -p "$dest/requirejs"
cp requirejs-2.3.8/package/require.js "$dest/requirejs/"

mkdir -p "$dest/jquery"
cp jquery-2.2.4/package/dist/jquery.min.js jquery-2.2.4/package/LICENSE.txt "$dest/jquery/"

echo "vendored into $dest:"
du -sh "$dest"
