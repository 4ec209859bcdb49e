#!/usr/bin/env bash
# Tags the versions of the deployable packages (packages/<name> with a bundle and
# infra/<name>/template.yaml) that have no tag yet: @netkit/<name>@<version>. Used instead of
# `changeset tag`, which would also tag libraries (aws-core) and tools that are never released.
# Prints `New tag: @netkit/<name>@<version>` per tag, the line changesets/action reads to report
# the published packages.
set -euo pipefail
cd "$(dirname "$0")/../.."
for dir in packages/*/; do
  name=$(basename "$dir")
  [ -f "infra/$name/template.yaml" ] && [ -f "$dir/build.mjs" ] || continue
  version=$(node -p "require('./$dir/package.json').version")
  tag="@netkit/$name@$version"
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then continue; fi
  git tag -a "$tag" -m "$name $version"
  echo "New tag: $tag"
done
