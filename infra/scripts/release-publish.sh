#!/usr/bin/env bash
# usage: infra/scripts/release-publish.sh <package>...
# Finishes the release of each package's current version, tagged by release-tag.sh: writes the
# release files (pnpm run release:pack), pushes the tag, and creates the GitHub release with the
# files, or completes one a failed run left (uploads the files again, publishes a draft). Every
# step can run again after a failure at any point, so re-running the workflow finishes the release.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -eq 0 ]; then
  echo "usage: infra/scripts/release-publish.sh <package>..." >&2
  exit 2
fi
# A re-run on a later commit must not ship that commit's build under an older tag.
for name in "$@"; do
  tag="@netkit/$name@$(node -p "require('./packages/$name/package.json').version")"
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null &&
    [ "$(git rev-parse "refs/tags/$tag^{commit}")" != "$(git rev-parse HEAD)" ]; then
    echo "$tag points at $(git rev-parse --short "refs/tags/$tag^{commit}"), not HEAD: release it from that commit" >&2
    exit 1
  fi
done
pnpm run release:pack "$@"
for name in "$@"; do
  version=$(node -p "require('./packages/$name/package.json').version")
  tag="@netkit/$name@$version"
  git rev-parse -q --verify "refs/tags/$tag" >/dev/null || { echo "no tag $tag (run release-tag.sh)" >&2; exit 1; }
  git push origin "refs/tags/$tag"
  # The function zip and the template that names it, then one zip per CLI (if any).
  files=("release/$name-$version.zip" "release/$name-$version.template.yaml")
  for cli in release/"$name"-*-"$version".zip; do
    if [ -e "$cli" ]; then files+=("$cli"); fi
  done
  if draft=$(gh release view "$tag" --json isDraft --jq .isDraft 2>/dev/null); then
    gh release upload "$tag" "${files[@]}" --clobber
    if [ "$draft" != "false" ]; then gh release edit "$tag" --draft=false; fi
  else
    notes=$(awk -v v="## $version" '$0==v{f=1;next} /^## /{f=0} f' "packages/$name/CHANGELOG.md" 2>/dev/null || true)
    gh release create "$tag" "${files[@]}" --title "$name $version" \
      --notes "${notes:-See packages/$name/CHANGELOG.md}" --verify-tag
  fi
  echo "Released: $tag"
done
