from django.contrib import admin

from .models import AliasEvent, ModelAlias, ModelVersion, RegisteredModel


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    extra = 0
    fields = ["version", "status", "flavour", "created_at"]
    readonly_fields = fields
    show_change_link = True


@admin.register(RegisteredModel)
class RegisteredModelAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "task", "target_name", "created_at", "archived_at"]
    list_filter = ["team", "task"]
    search_fields = ["name", "description"]
    inlines = [ModelVersionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["model", "version", "status", "flavour", "created_at", "created_by"]
    list_filter = ["status", "flavour", "model__team"]
    search_fields = ["model__name"]
    readonly_fields = ["package_path", "package_sha256", "manifest", "training_data_fingerprint", "created_at"]


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    list_display = ["model", "name", "version", "updated_at"]
    list_filter = ["model__team"]


@admin.register(AliasEvent)
class AliasEventAdmin(admin.ModelAdmin):
    list_display = ["model", "alias", "from_version", "to_version", "moved_by", "moved_at"]
    list_filter = ["model__team"]
