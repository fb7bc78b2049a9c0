// Sales, marketing, retail and customer service. Written for jobbert; one title per line: en | de | es | zh
export default `
sales representative | Vertriebsmitarbeiter | representante de ventas | 销售代表
sales manager | Vertriebsleiter | director de ventas | 销售经理
account manager | Kundenbetreuer | gestor de cuentas | 客户经理
key account manager | Key-Account-Manager | gestor de cuentas clave | 大客户经理
sales engineer | Vertriebsingenieur | ingeniero de ventas | 销售工程师
inside sales representative | Innendienstmitarbeiter Vertrieb | comercial de ventas internas | 内勤销售代表
field sales representative | Außendienstmitarbeiter | comercial de campo | 外勤销售代表
pharmaceutical sales representative | Pharmareferent | visitador médico | 医药代表
sales assistant | Verkäufer | dependiente | 店员
retail sales associate | Einzelhandelskaufmann | vendedor minorista | 零售销售员
cashier | Kassierer | cajero | 收银员
store manager | Filialleiter | gerente de tienda | 店长
assistant store manager | stellvertretender Filialleiter | subgerente de tienda | 副店长
shop assistant | Verkaufshilfe | ayudante de tienda | 营业员
visual merchandiser | Visual Merchandiser | escaparatista | 视觉陈列师
merchandiser | Warenplatzierer | reponedor | 理货员
shelf stocker | Regalauffüller | reponedor de estanterías | 货架补货员
buyer | Einkäufer im Handel | comprador de moda | 买手
category manager | Category Manager | gestor de categoría | 品类经理
e-commerce manager | E-Commerce-Manager | responsable de comercio electrónico | 电子商务经理
customer service representative | Kundendienstmitarbeiter | agente de atención al cliente | 客服代表
call centre agent | Callcenter-Agent | teleoperador | 呼叫中心坐席
customer success manager | Customer-Success-Manager | gestor de éxito del cliente | 客户成功经理
customer service manager | Leiter Kundenservice | responsable de atención al cliente | 客户服务经理
telemarketer | Telefonverkäufer | vendedor telefónico | 电话销售员
marketing manager | Marketingleiter | director de marketing | 市场营销经理
marketing specialist | Marketingspezialist | especialista en marketing | 市场营销专员
marketing assistant | Marketingassistent | asistente de marketing | 市场助理
digital marketing manager | Digital-Marketing-Manager | responsable de marketing digital | 数字营销经理
online marketing manager | Online-Marketing-Manager | responsable de marketing online | 网络营销经理
social media manager | Social-Media-Manager | responsable de redes sociales | 社交媒体经理
content manager | Content-Manager | gestor de contenidos | 内容经理
content creator | Content Creator | creador de contenido | 内容创作者
community manager | Community-Manager | community manager | 社区经理
brand manager | Markenmanager | gestor de marca | 品牌经理
product marketing manager | Produktmarketing-Manager | responsable de marketing de producto | 产品营销经理
market research analyst | Marktforschungsanalyst | analista de estudios de mercado | 市场调研分析师
public relations manager | PR-Manager | responsable de relaciones públicas | 公关经理
press officer | Pressesprecher | jefe de prensa | 新闻发言人
communications manager | Kommunikationsmanager | responsable de comunicación | 传播经理
event manager | Veranstaltungsmanager | organizador de eventos | 活动经理
event planner | Eventplaner | planificador de eventos | 活动策划
advertising manager | Werbeleiter | director de publicidad | 广告经理
media buyer | Mediaeinkäufer | comprador de medios | 媒介采购员
copywriter | Werbetexter | redactor publicitario | 文案撰稿人
growth marketer | Growth-Marketer | especialista en growth marketing | 增长营销专员
performance marketing manager | Performance-Marketing-Manager | responsable de performance marketing | 效果营销经理
export sales manager | Exportleiter | director de exportación | 出口销售经理
sales director | Vertriebsdirektor | director comercial | 销售总监
car salesperson | Automobilverkäufer | vendedor de automóviles | 汽车销售员
wholesale representative | Großhandelsvertreter | representante mayorista | 批发销售代表
florist | Florist | florista | 花店店员
bookseller | Buchhändler | librero | 书店店员
pharmacy sales assistant | Apothekenhelfer | dependiente de farmacia | 药店店员
optician sales assistant | Verkäufer im Optikgeschäft | vendedor de óptica | 眼镜店店员
estate sales consultant | Immobilienberater | asesor inmobiliario | 置业顾问
travel agent | Reisebürokaufmann | agente de viajes | 旅行社代理
tour guide | Reiseleiter | guía turístico | 导游
sales consultant | Verkaufsberater | asesor comercial | 销售顾问
sales coordinator | Vertriebskoordinator | coordinador de ventas | 销售协调员
sales development representative | Sales Development Representative | representante de desarrollo de ventas | 销售开发代表
account executive | Account Executive | ejecutivo de cuentas | 客户主管
channel sales manager | Channel-Sales-Manager | responsable de ventas por canal | 渠道销售经理
presales consultant | Presales-Berater | consultor de preventa | 售前顾问
sales administrator | Vertriebsinnendienstmitarbeiter | administrativo comercial | 销售行政专员
order processing clerk | Auftragssachbearbeiter | administrativo de pedidos | 订单处理员
pricing manager | Pricing-Manager | responsable de precios | 定价经理
deli counter assistant | Fachverkäufer an der Frischetheke | dependiente de charcutería | 熟食柜台店员
bakery sales assistant | Bäckereifachverkäufer | dependiente de panadería | 面包店店员
butcher shop assistant | Fleischereifachverkäufer | dependiente de carnicería | 肉店店员
fashion sales advisor | Modeberater | asesor de moda | 时装销售顾问
electronics salesperson | Verkäufer für Unterhaltungselektronik | vendedor de electrónica | 电子产品销售员
loss prevention officer | Ladendetektiv | agente de prevención de pérdidas | 防损专员
marketplace manager | Marketplace-Manager | responsable de marketplaces | 电商平台运营经理
search engine advertising manager | SEA-Manager | responsable de publicidad en buscadores | 搜索引擎广告经理
email marketing manager | E-Mail-Marketing-Manager | responsable de email marketing | 电子邮件营销经理
CRM manager | CRM-Manager | responsable de CRM | 客户关系管理经理
marketing analyst | Marketinganalyst | analista de marketing | 营销分析师
trade marketing manager | Trade-Marketing-Manager | responsable de trade marketing | 渠道营销经理
influencer marketing manager | Influencer-Marketing-Manager | responsable de marketing de influencers | 网红营销经理
affiliate marketing manager | Affiliate-Marketing-Manager | responsable de marketing de afiliación | 联盟营销经理
media planner | Mediaplaner | planificador de medios | 媒介策划
promoter | Promoter | promotor de ventas | 促销员
brand ambassador | Markenbotschafter | embajador de marca | 品牌大使
door-to-door salesperson | Haustürverkäufer | vendedor a domicilio | 上门推销员
auctioneer | Auktionator | subastador | 拍卖师
antique dealer | Antiquitätenhändler | anticuario | 古董商
market vendor | Markthändler | vendedor de mercadillo | 市场摊贩
`;
