#!/usr/bin/env bash
# Rebuilds the committed NHS.UK frontend files in static/ from the npm package.
# Needs node and npm; run it only when changing the nhsuk-frontend version or static/src/pairing.scss.
set -euo pipefail
VERSION="${NHSUK_FRONTEND_VERSION:-10.6.1}"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --silent "nhsuk-frontend@$VERSION" sass@1
dist=node_modules/nhsuk-frontend/dist/nhsuk
npx sass --no-source-map --style=compressed --load-path=node_modules "$here/static/src/pairing.scss" "$here/static/pairing.min.css"
# The JavaScript is an ES module; drop the source-map comment, the map is not shipped.
sed 's#//\# sourceMappingURL=.*##' "$dist/nhsuk-frontend.min.js" > "$here/static/nhsuk-frontend.min.js"
for icon in nhsuk-icon-arrow-down.svg nhsuk-icon-arrow-up-down.svg nhsuk-icon-arrow-up.svg nhsuk-icon-cross.svg favicon.ico favicon.svg; do
  cp "$dist/assets/images/$icon" "$here/static/images/$icon"
done
echo "nhsuk-frontend $VERSION" > "$here/static/VERSION"
