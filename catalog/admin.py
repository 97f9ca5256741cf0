from django.contrib import admin

from .models import Category


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
