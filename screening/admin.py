from django.contrib import admin

from .models import Library, LibraryShard


class LibraryShardInline(admin.TabularInline):
    model = LibraryShard
    extra = 0
    readonly_fields = ["index", "path", "compounds"]


@admin.register(Library)
class LibraryAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "status", "records", "valid", "invalid", "duplicates", "created_at"]
    list_filter = ["status", "team"]
    search_fields = ["name", "filename"]
    inlines = [LibraryShardInline]
