from django.db import migrations

# Car-part categories from Tradera's tree (API notes); staff edit them in admin.
RULES = [
    ("bromsok", 1000860, "Bromsok"),
    ("bromsskiv", 343455, "Bromsskivor"),
    ("strålkastare", 343450, "Strålkastare"),
    ("baklykt", 343445, "Baklyktor"),
    ("växellåda", 343475, "Växellåda"),
    ("generator", 343477, "Generatorer"),
    ("startmotor", 343482, "Startmotorer"),
    ("backspegel", 343504, "Backspeglar"),
    ("stötfångare", 1000881, "Stötfångare"),
    ("turbo", 343533, "Turbo"),
    ("motor", 343525, "Motorer"),
    ("fälg", 343562, "Däck & fälgar"),
    ("däck", 343562, "Däck & fälgar"),
]


def add_rules(apps, schema_editor):
    CategoryRule = apps.get_model("tradera", "CategoryRule")
    for position, (keyword, category_id, name) in enumerate(RULES, start=10):
        CategoryRule.objects.create(
            keyword=keyword, category_id=category_id, category_name=name, position=position
        )


class Migration(migrations.Migration):
    dependencies = [("tradera", "0002_publishing_and_sync")]
    operations = [migrations.RunPython(add_rules, migrations.RunPython.noop)]
