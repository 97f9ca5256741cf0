from django.contrib import admin

from .forms import CategoryTreeChoiceField, category_tree_filter_choices
from .models import Category


class CategoryTreeListFilter(admin.RelatedFieldListFilter):
    """The changelist's category filter in tree order, subcategories indented (Django lists them by name)."""

    def field_choices(self, field, request, model_admin):
        return category_tree_filter_choices()


class CategoryTreeFormMixin:
    """Category menus of an admin form in tree order (a department, then its subcategories, indented)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Category:
            kwargs.setdefault("form_class", CategoryTreeChoiceField)
            kwargs.setdefault("queryset", Category.objects.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Category)
class CategoryAdmin(CategoryTreeFormMixin, admin.ModelAdmin):
    list_display = ["name", "parent", "slug", "position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]
