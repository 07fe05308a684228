from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('studio', '0007_brief_kind_from_templates'),
    ]

    operations = [
        migrations.AddField(
            model_name='generationjob',
            name='attempt_errors',
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='failure',
            field=models.CharField(blank=True, choices=[('model', 'The model version could not be loaded'), ('base_model', 'The base model could not be loaded'), ('brief', 'The brief could not be written as it is'), ('gave_up', 'Stopped on every attempt'), ('error', 'Unexpected error')], max_length=16),
        ),
    ]
