# The ARL image: nothing but the fully static `arl` (scripts/build-static.sh).
# One image serves the operator Deployment (`/arl operator`) and the init
# container that copies `arl` into every sandbox pod (`/arl sidecar copy-self`).
#   scripts/build-static.sh && docker build -t arl:0.1.0 .
# Without a container builder, scripts/build-image.sh writes the same image as
# an OCI archive (dist/arl-image.tar) for docker load / kind load / ctr import.
FROM scratch
COPY dist/arl /arl
USER 65532:65532
ENTRYPOINT ["/arl"]
