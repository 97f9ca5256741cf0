from django.urls import path

from . import explain, views

urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.category, name="category"),
    path("p/<slug:slug>/", views.product, name="product"),
    path("search/", views.text_search, name="search"),
    path("search/photo/", views.photo_search, name="photo_search"),
    path("search/photo/why/", explain.photo_why, name="photo_why"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/", views.cart_add, name="cart_add"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("cart/remove/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("order/<str:reference>/", views.order_done, name="order_done"),
    path("pay/test/<str:reference>/", views.pay_test, name="pay_test"),
    path("pay/callback/<str:provider>/", views.payment_callback, name="payment_callback"),
    path("privacy/", views.privacy, name="privacy"),
    path("privacy/forget/", views.forget, name="forget"),
]
