"""tourism: a scenic area's sites (碳汇+旅游), and the visitors' orders offsetting a trip to one

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tourism_site',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('adcode', sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
    sa.Column('latitude', sa.Numeric(9, 6), nullable=False),
    sa.Column('longitude', sa.Numeric(9, 6), nullable=False),
    sa.Column('airport', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=True),
    sa.Column('station', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('latitude >= -90 AND latitude <= 90', name='ck_tourism_site_latitude'),
    sa.CheckConstraint('longitude >= -180 AND longitude <= 180', name='ck_tourism_site_longitude'),
    sa.CheckConstraint('airport IS NOT NULL OR station IS NOT NULL', name='ck_tourism_site_access'),
    sa.ForeignKeyConstraint(['org_id'], ['organisation.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_tourism_site_org_id', 'tourism_site', ['org_id'])
    op.create_table('tourism_site_offset',
    sa.Column('order_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['purchase_order.id'], ),
    sa.ForeignKeyConstraint(['site_id'], ['tourism_site.id'], ),
    sa.PrimaryKeyConstraint('order_id')
    )
    op.create_index('ix_tourism_site_offset_site_id', 'tourism_site_offset', ['site_id'])


def downgrade() -> None:
    op.drop_table('tourism_site_offset')
    op.drop_table('tourism_site')
