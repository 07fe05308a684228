from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('studio', '0008_generation_job_failures'),
    ]

    operations = [
        migrations.AddField(
            model_name='modelversion',
            name='load_check',
            field=models.CharField(choices=[('unchecked', 'Not checked'), ('pending', 'Checking'), ('ok', 'Loads and writes'), ('failed', 'Cannot be loaded')], default='unchecked', max_length=16),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='load_check_error',
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='load_check_info',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='modelversion',
            name='load_checked_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
