# The operator image: one Python process (`ray-operator run`), non-root, read-only root filesystem.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ray_operator ray_operator
COPY webhook webhook
COPY certs certs
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# UID/GID 65532 matches the Deployment's securityContext (config/manager/manager.yaml).
RUN groupadd --gid 65532 nonroot && useradd --uid 65532 --gid 65532 --no-create-home --shell /usr/sbin/nologin nonroot
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
EXPOSE 9443 8080 8081
ENTRYPOINT ["ray-operator"]
CMD ["run"]
