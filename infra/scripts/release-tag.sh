#!/usr/bin/env bash
# Tags the versions of the deployable packages (packages/<name> with a bundle and
# infra/<name>/template.yaml) that have no tag yet: @netkit/<name>@<version>. Used instead of
# `changeset tag`, which would also tag libraries (aws-core) and tools that are never released.
# Prints `New tag: @netkit/<name>@<version>` per version that is not released yet, the line
# changesets/action reads to report the published packages: a new tag, and also a tag whose
# GitHub release is missing or still a draft (a run that failed after tagging), so a re-run
# finishes that release and its deploy (infra/scripts/release-publish.sh is idempotent).
set -euo pipefail
cd "$(dirname "$0")/../.."
released() { # the GitHub release of tag $1 exists and is published
  [ "$(gh release view "$1" --json isDraft --jq .isDraft 2>/dev/null)" = "false" ]
}
for dir in packages/*/; do
  name=$(basename "$dir")
  [ -f "infra/$name/template.yaml" ] && [ -f "$dir/build.mjs" ] || continue
  version=$(node -p "require('./$dir/package.json').version")
  tag="@netkit/$name@$version"
  if git rev-parse -q --verify "refs/tags/$tag" >/dev/null; then
    if released "$tag"; then continue; fi
  else
    git tag -a "$tag" -m "$name $version"
  fi
  echo "New tag: $tag"
done
