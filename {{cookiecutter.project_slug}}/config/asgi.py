from django.core.asgi import get_asgi_application

from config.startup import load_settings_or_exit

# A configuration error stops the server with one sentence (config/startup.py).
load_settings_or_exit()
application = get_asgi_application()
