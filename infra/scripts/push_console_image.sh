#!/usr/bin/env bash
# Push the console's image to the stack's ECR repository under its content tag (infra/console_image.py).
# The deploy workflow builds LOCAL_IMAGE before `pulumi up`; run elsewhere (a laptop), this builds it first.
# Environment (names only, no secret): AWS_REGION REPOSITORY_URL LOCAL_IMAGE IMAGE_TAG
# The repository's tags are immutable: a tag already there is this same content, and is not pushed again.
set -euo pipefail
: "${AWS_REGION:?}" "${REPOSITORY_URL:?}" "${LOCAL_IMAGE:?}" "${IMAGE_TAG:?}"

repository_name="${REPOSITORY_URL#*/}"
if aws ecr describe-images --region "$AWS_REGION" --repository-name "$repository_name" \
    --image-ids "imageTag=$IMAGE_TAG" >/dev/null 2>&1; then
    echo "console image: $IMAGE_TAG is already in ECR" >&2
    exit 0
fi
if ! docker image inspect "$LOCAL_IMAGE" >/dev/null 2>&1; then
    echo "console image: building $LOCAL_IMAGE" >&2
    docker build --file console/Dockerfile --tag "$LOCAL_IMAGE" . >&2
fi
# The registry password goes from aws to docker through a pipe, never onto a command line or into a log.
aws ecr get-login-password --region "$AWS_REGION" |
    docker login --username AWS --password-stdin "${REPOSITORY_URL%%/*}" >/dev/null
docker tag "$LOCAL_IMAGE" "$REPOSITORY_URL:$IMAGE_TAG"
docker push "$REPOSITORY_URL:$IMAGE_TAG" >&2
echo "console image: pushed $REPOSITORY_URL:$IMAGE_TAG" >&2
