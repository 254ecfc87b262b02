from django.core.wsgi import get_wsgi_application

from config.startup import load_settings_or_exit

# A configuration error stops the server with one sentence (config/startup.py).
load_settings_or_exit()
application = get_wsgi_application()
