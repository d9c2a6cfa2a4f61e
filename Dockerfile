# geodesic with geodesic-stage baked in: `stage use STAGE` in every shell.
#   docker build -t acme/geodesic-stage .
ARG GEODESIC_VERSION=4.5.1
FROM cloudposse/geodesic:${GEODESIC_VERSION}-debian

# The package gets a virtualenv of its own, made by the image's own python3
# (geodesic's Debian image ships Python with venv in /usr/local): no second
# interpreter, and its boto3 never fights the image's Python packages.
# age: to recover ~/.aws/geodesic-stage/keys.age by hand (age -d).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends age \
 && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml setup.cfg README.md /usr/src/geodesic-stage/
COPY geodesic_stage/ /usr/src/geodesic-stage/geodesic_stage/
COPY scripts/install /usr/src/geodesic-stage/scripts/install
RUN sh /usr/src/geodesic-stage/scripts/install && rm -rf /usr/src/geodesic-stage

# stage.sh sorts after geodesic's aws.sh and prompt.sh and before its Ω_* files.
COPY rootfs/ /
