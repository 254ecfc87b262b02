from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("workerapp", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="FunctionRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("key", models.CharField(max_length=255)),
                ("attempt", models.PositiveIntegerField()),
                ("worker", models.CharField(blank=True, max_length=255)),
                ("started", models.FloatField(help_text="time.time() when the function started")),
            ],
        ),
    ]
